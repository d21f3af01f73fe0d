#!/usr/bin/env bash
# Installs what the `mpi` cargo feature of astrosolve needs (Debian/Ubuntu): OpenMPI (library,
# headers, mpirun) and libclang (rsmpi generates its bindings with bindgen). Then:
#   cargo build --release -p astrosolve --features mpi
#   mpirun -np 4 target/release/astrosolve solve DATA --out SOL
# (docs/scaling.md). The build without the feature needs none of this.
set -euo pipefail
if command -v mpirun >/dev/null && command -v mpicc >/dev/null && ldconfig -p 2>/dev/null | grep -q libclang; then
  echo "install_mpi.sh: MPI ($(mpirun --version 2>/dev/null | head -1)) and libclang are already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install_mpi.sh: apt-get not found. Install an MPI library with its headers and mpirun (OpenMPI or MPICH; e.g. 'dnf install openmpi-devel', 'brew install open-mpi', or your cluster's 'module load openmpi') and libclang, then build with --features mpi." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev >/dev/null
echo "install_mpi.sh: installed $(mpirun --version 2>/dev/null | head -1), mpicc and libclang"
