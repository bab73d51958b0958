python benchmarks/holdout.py --cell-type NK --methods scarches,mean_shift,control --csv benchmarks/results/kang_b4.csv
