// The per-path kernels behind cpu_adam.h's dispatch (one file per instruction set).
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/cpu_adam/cpu_adam.h"

namespace tessel::cpu_adam::detail {

// Lanes of the fixed-order Σ g²: element i of a range is added into lanes[i % kLanes].
constexpr std::size_t kLanes = 32;

void update_scalar(const StepConstants& k, float* p, const float* g, float* m, float* v,
                   uint16_t* half, HalfFormat format, std::size_t n);
void update_avx2(const StepConstants& k, float* p, const float* g, float* m, float* v,
                 uint16_t* half, HalfFormat format, std::size_t n);
void update_avx512(const StepConstants& k, float* p, const float* g, float* m, float* v,
                   uint16_t* half, HalfFormat format, std::size_t n);

void sum_squares_scalar(const float* g, std::size_t n, double* lanes);
void sum_squares_avx2(const float* g, std::size_t n, double* lanes);
void sum_squares_avx512(const float* g, std::size_t n, double* lanes);

void convert_scalar(const float* x, uint16_t* out, HalfFormat format, std::size_t n);
void convert_avx2(const float* x, uint16_t* out, HalfFormat format, std::size_t n);
void convert_avx512(const float* x, uint16_t* out, HalfFormat format, std::size_t n);

}  // namespace tessel::cpu_adam::detail
