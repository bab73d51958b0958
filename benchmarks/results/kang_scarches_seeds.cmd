python benchmarks/holdout.py --all-cell-types --methods scarches --seeds 1,2 --csv benchmarks/results/kang_scarches_seeds.csv
