// The MPI switch of a build without MPI (runtime/sweep/mpi_launch.cpp compiled here without
// TESSEL_HAVE_MPI): --mpi, or a start by mpirun/srun as one of several ranks, is a usage
// error that says how to get MPI or what to do instead.
#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/sweep/mpi_sweep.h"

namespace tessel::sweep {
namespace {

std::string usage_error(bool flag) {
  try {
    use_mpi(flag, Shard{});
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage);
    return e.what();
  }
  return "";
}

const std::string kAdvice =
    "this tessel was built without MPI (TESSEL_MPI=OFF, or Open MPI was not found: install "
    "libopenmpi-dev and openmpi-bin, e.g. with scripts/deps.sh, and reconfigure); run the sweep "
    "on one machine, or split it with --shard i/n and join the shards with tessel merge "
    "(docs/scale_out.md)";

TEST(NoMpi, MpiFlagIsAClearError) {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) ::unsetenv(v);
  EXPECT_FALSE(mpi_built());
  EXPECT_FALSE(use_mpi(false, Shard{}));
  EXPECT_EQ(usage_error(true), "--mpi: " + kAdvice);
  SweepOptions options;
  options.out_dir = "never_written";
  EXPECT_THROW(run_sweep_mpi(options, [](const SweepSummary&) {}), Error);
}

TEST(NoMpi, StartedAsOneOfSeveralRanksIsAClearError) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  EXPECT_EQ(launcher_ranks(), 3u);
  EXPECT_EQ(usage_error(false),
            "started by mpirun/srun as one of several ranks (OMPI_COMM_WORLD_SIZE=3): " + kAdvice);
  // One rank (srun in a job array) is an ordinary run.
  ::setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  EXPECT_FALSE(use_mpi(false, Shard{}));
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::setenv("PMI_SIZE", "4", 1);
  std::string variable;
  EXPECT_EQ(launcher_ranks(&variable), 4u);
  EXPECT_EQ(variable, "PMI_SIZE=4");
  ::unsetenv("PMI_SIZE");
}

}  // namespace
}  // namespace tessel::sweep
