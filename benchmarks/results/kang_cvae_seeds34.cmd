python benchmarks/holdout.py --all-cell-types --methods cvae --seeds 3,4 --csv benchmarks/results/kang_cvae_seeds34.csv
