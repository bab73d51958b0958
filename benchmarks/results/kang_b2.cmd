python benchmarks/holdout.py --cell-type CD14+Mono --methods mean_shift,control --csv benchmarks/results/kang_b2.csv
