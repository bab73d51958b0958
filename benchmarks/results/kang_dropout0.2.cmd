python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 0 --model-kwargs '{"dropout_rate": 0.2}' --suffix _dropout0.2 --csv benchmarks/results/kang_dropout0.2.csv
