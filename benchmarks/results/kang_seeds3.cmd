python benchmarks/holdout.py --cell-type CD4T,CD8T,Dendritic,FCGR3A+Mono,NK --methods trvae --seeds 1,2 --csv benchmarks/results/kang_seeds3.csv
