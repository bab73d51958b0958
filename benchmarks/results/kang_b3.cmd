python benchmarks/holdout.py --cell-type CD4T,CD8T,Dendritic,FCGR3A+Mono,NK --methods scarches,mean_shift,control --csv benchmarks/results/kang_b3.csv   # stopped after CD4T
