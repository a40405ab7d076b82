"""The CUDA path: kernels in cpp/cuda/, launched from one orchestration written against an array
module and a launcher (CuPy + NVRTC on a GPU, NumPy + the emulator ``specsep._emu`` in tests)."""
