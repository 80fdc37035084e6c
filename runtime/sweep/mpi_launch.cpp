// Deciding whether a sweep runs under MPI; built with or without MPI.
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/sweep/mpi_sweep.h"

namespace tessel::sweep {
namespace {

const char* kNoMpi =
    "this tessel was built without MPI (TESSEL_MPI=OFF, or Open MPI was not found: install "
    "libopenmpi-dev and openmpi-bin, e.g. with scripts/deps.sh, and reconfigure); run the "
    "sweep on one machine, or split it with --shard i/n and join the shards with tessel merge "
    "(docs/scale_out.md)";

}  // namespace

bool mpi_built() {
#ifdef TESSEL_HAVE_MPI
  return true;
#else
  return false;
#endif
}

size_t launcher_ranks(std::string* variable) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    char* end = nullptr;
    unsigned long long n = std::strtoull(value, &end, 10);
    if (*end != '\0' || n == 0) continue;
    if (variable) *variable = std::string(name) + "=" + value;
    return static_cast<size_t>(n);
  }
  return 0;
}

bool use_mpi(bool mpi_flag, const Shard& shard) {
  std::string variable;
  // One of several ranks of a launcher: without MPI each rank would run the whole sweep
  // into the same folder, so the launch itself asks for MPI.
  const bool launched = launcher_ranks(&variable) > 1;
  if (!mpi_flag && !launched) return false;
  const std::string why =
      mpi_flag ? "--mpi" : "started by mpirun/srun as one of several ranks (" + variable + ")";
  if (!mpi_built()) throw Error(why + ": " + kNoMpi, kExitUsage);
  if (!shard.whole())
    throw Error(why + " and --shard " + shard.describe() +
                    ": use one or the other (an MPI job hands out every point itself)",
                kExitUsage);
  return true;
}

#ifndef TESSEL_HAVE_MPI
SweepSummary run_sweep_mpi(const SweepOptions&, const std::function<void(const SweepSummary&)>&) {
  throw Error(std::string("--mpi: ") + kNoMpi, kExitUsage);
}
#endif

}  // namespace tessel::sweep
