"""gandiag's benchmarks. `python -m benchmarks` runs the speed suite (README.md): gandiag's training
step against the plain loop users write by hand (benchmarks/naive_ring8.py), interleaved in one
process, plus the cost of recording, of many seeds and, where a GPU is present, CUDA. The other scripts
here (stabilizer_table.py, seeds_ring8.py, bench_render.py, ...) run on their own."""
