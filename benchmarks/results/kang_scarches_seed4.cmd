python benchmarks/holdout.py --all-cell-types --methods scarches --seeds 4 --csv benchmarks/results/kang_scarches_seed4.csv
