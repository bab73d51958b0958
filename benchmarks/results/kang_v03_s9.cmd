OMP_NUM_THREADS=1 python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 9 --csv /tmp/runs/v03_s9.csv   # the 0.3.0 defaults (cc9432c); the CSV then copied here
