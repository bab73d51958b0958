python benchmarks/holdout.py --cell-type NK,CD4T,CD14+Mono,FCGR3A+Mono,CD8T,Dendritic --methods trvae --seeds 0 --csv benchmarks/results/kang_a2.csv --plots docs/_static   # stopped after NK and CD4T
