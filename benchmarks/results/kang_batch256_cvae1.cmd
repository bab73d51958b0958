python benchmarks/holdout.py --all-cell-types --train-kwargs '{"batch_size": 256}' --suffix _batch256 --methods cvae --seeds 1 --csv benchmarks/results/kang_batch256_cvae1.csv
