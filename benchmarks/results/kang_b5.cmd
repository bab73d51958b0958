python benchmarks/holdout.py --cell-type CD8T,Dendritic,FCGR3A+Mono --methods scarches,mean_shift,control --csv benchmarks/results/kang_b5.csv
