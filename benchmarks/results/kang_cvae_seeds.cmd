python benchmarks/holdout.py --all-cell-types --methods cvae --seeds 1,2 --csv benchmarks/results/kang_cvae_seeds.csv
