# Reference outputs of R psych for tests/test_health.py (run once by hand; R is not needed by the tests).
#   Rscript tests/data/bfi_reference.R   (R 4.2.2, psych 2.2.9, psychTools 2.2.9, Debian bookworm)
# Data: the 25 Big-Five items of psychTools::bfi (2,800 SAPA respondents, Revelle et al.),
# complete cases only, written to bfi25.csv.gz.
library(psych); library(psychTools)
data(bfi)
x <- na.omit(bfi[, 1:25])
gz <- gzfile("tests/data/bfi25.csv.gz", "w"); write.csv(x, gz, row.names = FALSE); close(gz)
R <- cor(x)
k <- KMO(R)
b <- cortest.bartlett(R, n = nrow(x))
adeq <- data.frame(item = c("overall", names(k$MSAi)), msa = c(k$MSA, k$MSAi))
write.csv(adeq, "tests/data/bfi_kmo.csv", row.names = FALSE)
write.csv(data.frame(chisq = b$chisq, df = b$df, p = b$p.value, n = nrow(x)),
          "tests/data/bfi_bartlett.csv", row.names = FALSE)
out <- list(); vout <- list()
for (fm in c("minres", "ml")) for (rot in c("none", "varimax", "promax")) for (nf in c(3, 5)) {
  f <- fa(x, nfactors = nf, fm = fm, rotate = rot, scores = "regression")
  L <- unclass(f$loadings)
  long <- data.frame(fm = fm, rotation = rot, nfactors = nf, item = rownames(L),
                     factor = rep(seq_len(nf), each = nrow(L)), loading = signif(as.vector(L), 10),
                     communality = rep(f$communality, nf))
  out[[length(out) + 1]] <- long
  V <- f$Vaccounted
  va <- data.frame(fm = fm, rotation = rot, nfactors = nf, factor = seq_len(nf),
                   ss_loadings = V["SS loadings", ], proportion = V["Proportion Var", ],
                   cumulative = if ("Cumulative Var" %in% rownames(V)) V["Cumulative Var", ] else NA,
                   explained = if (nf > 1) V["Proportion Explained", ] else 1)
  vout[[length(vout) + 1]] <- va
  if (nf == 5 && rot == "varimax") {
    write.csv(round(f$scores[1:20, ], 8), sprintf("tests/data/bfi_scores_%s_%s_%d.csv", fm, rot, nf),
              row.names = FALSE)
  }
}
write.csv(do.call(rbind, out), "tests/data/bfi_loadings.csv", row.names = FALSE)
write.csv(do.call(rbind, vout), "tests/data/bfi_variance.csv", row.names = FALSE)
ev <- eigen(R)$values
write.csv(data.frame(eigen = ev), "tests/data/bfi_eigen.csv", row.names = FALSE)
