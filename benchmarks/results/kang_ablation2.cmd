python benchmarks/holdout.py --cell-type CD4T,CD8T,Dendritic,FCGR3A+Mono,NK --methods cvae,mmd_z --seeds 0 --csv benchmarks/results/kang_ablation2.csv
