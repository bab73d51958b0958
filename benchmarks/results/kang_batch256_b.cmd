python benchmarks/holdout.py --cell-type B,CD4T,CD8T,FCGR3A+Mono,NK --methods trvae --seeds 0 --train-kwargs '{"batch_size": 256}' --suffix _batch256 --csv benchmarks/results/kang_batch256_b.csv
