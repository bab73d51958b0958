python benchmarks/holdout.py --all-cell-types --methods scarches --seeds 3 --csv benchmarks/results/kang_scarches_seed3.csv
