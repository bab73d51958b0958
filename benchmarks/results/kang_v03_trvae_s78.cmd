OMP_NUM_THREADS=1 python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 7,8 --csv /tmp/runs6/trvae_s78.csv   # the 0.3.0 defaults (7a950e3); the CSV then copied here
