python benchmarks/holdout.py --cell-type CD14+Mono,CD4T,CD8T,Dendritic,FCGR3A+Mono,NK --methods trvae --likelihood zinb --seeds 0 --csv benchmarks/results/kang_zinb2.csv
