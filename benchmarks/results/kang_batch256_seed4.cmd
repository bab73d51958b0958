python benchmarks/holdout.py --all-cell-types --train-kwargs '{"batch_size": 256}' --suffix _batch256 --methods trvae,mmd_z,cvae --seeds 4 --csv benchmarks/results/kang_batch256_seed4.csv
