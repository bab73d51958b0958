python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 0 --predict-kwargs '{"use_posterior_mean": false}' --suffix _sampled --csv benchmarks/results/kang_sampled.csv
