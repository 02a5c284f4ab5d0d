// AVX-512 VNNI GEMM kernels (see Package.swift).
