python benchmarks/holdout.py --cell-type NK,CD4T,CD14+Mono,FCGR3A+Mono,CD8T,Dendritic --methods trvae --likelihood nb --seeds 0 --csv benchmarks/results/kang_nb2.csv
