python benchmarks/holdout.py --all-cell-types --methods trvae --likelihood nb --seeds 0 --csv benchmarks/results/kang_nb.csv   # stopped after B, kept as kang_nb_B.csv
