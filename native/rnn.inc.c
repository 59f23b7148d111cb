/* Fused recurrent-cell kernels, included at the end of kernels.c (shares its vector helpers and thread pool). */
