python benchmarks/holdout.py --all-cell-types --train-kwargs '{"batch_size": 256}' --suffix _batch256 --methods mmd_z --seeds 0 --csv benchmarks/results/kang_batch256_mmd_z.csv
