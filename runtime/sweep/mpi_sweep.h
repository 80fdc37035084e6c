// Sweeps across the ranks of an MPI job (mpirun, srun): rank 0 plans, checks and records,
// every rank runs points in child processes, handed out one at a time as slots free up.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "runtime/sweep/sweep.h"

namespace tessel::sweep {

// True when this tessel was built with MPI (CMake option TESSEL_MPI).
bool mpi_built();
// The job size a launcher announced in this process's environment (OMPI_COMM_WORLD_SIZE from
// mpirun, PMI_SIZE from srun/MPICH's PMI, SLURM_STEP_NUM_TASKS from srun); 0 when none.
// `variable` gets "NAME=value" of the variable it read.
size_t launcher_ranks(std::string* variable = nullptr);
// Whether `tessel sweep` runs as an MPI job: `--mpi` given, or started by a launcher as one
// of several ranks. Throws tessel::Error (usage) for --mpi or a multi-rank launch in a build
// without MPI, and for MPI together with --shard.
bool use_mpi(bool mpi_flag, const Shard& shard);
// Runs the sweep across MPI_COMM_WORLD (MPI_Init to MPI_Finalize). On rank 0, `finish` runs
// with the summary while the job still stands (the report), then rank 0 returns the summary;
// the other ranks return one with writer = false and must write nothing.
SweepSummary run_sweep_mpi(const SweepOptions& options,
                           const std::function<void(const SweepSummary&)>& finish);

}  // namespace tessel::sweep
