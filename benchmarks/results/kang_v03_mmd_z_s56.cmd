OMP_NUM_THREADS=1 python benchmarks/holdout.py --all-cell-types --methods mmd_z --seeds 5,6 --csv /tmp/runs3/mmd_z_s56.csv   # the 0.3.0 defaults (78b301b); the CSV then copied here
