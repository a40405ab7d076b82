"""The subcommands of the ``specsep`` command line, one module each, and what they share.

- :mod:`.demo`: ``specsep demo``;
- :mod:`.oracle`: ``specsep oracle`` (the work itself is :mod:`specsep.oracle`), and
  :mod:`.oracle_report`, its ``results.csv`` and ``summary.md``;
- :mod:`.phase`: ``specsep griffinlim`` and ``specsep misi``;
- :mod:`.audio`: reading a mixture with its sources from WAV files, writing WAV files;
- :mod:`.options`: options several commands take (backend, STFT size);
- :mod:`.scores`: SI-SDR, SNR and BSS Eval SDR of estimates over all channels;
- :mod:`.figures`: spectrograms, masks and curves drawn on matplotlib's Agg canvas.

Every command module has ``add_parser(commands)``, which adds its subparser with defaults
``run`` (a function of the parsed arguments returning the exit status) and ``command_parser``.
"""
