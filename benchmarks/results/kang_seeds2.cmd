python benchmarks/holdout.py --cell-type CD14+Mono --methods trvae --seeds 2 --csv benchmarks/results/kang_seeds2.csv
