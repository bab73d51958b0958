python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 1,2 --csv benchmarks/results/kang_seeds.csv   # stopped after B and the CD14+Mono seed-1 rows
