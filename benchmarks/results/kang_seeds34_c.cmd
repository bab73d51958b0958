python benchmarks/holdout.py --cell-type CD14+Mono,CD4T,CD8T,Dendritic,FCGR3A+Mono,NK --methods trvae,mmd_z --seeds 3,4 --csv benchmarks/results/kang_seeds34_c.csv
