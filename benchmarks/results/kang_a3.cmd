python benchmarks/holdout.py --cell-type CD14+Mono,FCGR3A+Mono,CD8T,Dendritic --methods trvae --csv benchmarks/results/kang_a3.csv
