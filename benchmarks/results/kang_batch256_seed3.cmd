python benchmarks/holdout.py --all-cell-types --train-kwargs '{"batch_size": 256}' --suffix _batch256 --methods trvae,mmd_z,cvae --seeds 3 --csv benchmarks/results/kang_batch256_seed3.csv
