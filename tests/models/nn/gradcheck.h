// Central finite differences in double precision, shared by the gradient-check tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace tessel::nn::test {

// Numerical gradient of f with respect to every entry of x (x restored afterwards).
inline std::vector<double> numeric_grad(std::vector<double>& x, const std::function<double()>& f,
                                        double h = 1e-6) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = f();
    x[i] = keep - h;
    const double down = f();
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

// Largest |a - b| relative to the scale of b (absolute below a floor of 1).
inline double max_rel_error(const double* a, const std::vector<double>& b) {
  double scale = 1e-2, err = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < b.size(); ++i) err = std::max(err, std::abs(a[i] - b[i]));
  return err / scale;
}

}  // namespace tessel::nn::test
