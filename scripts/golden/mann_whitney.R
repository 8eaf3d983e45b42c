#!/usr/bin/env Rscript
# Golden values for the Mann-Whitney U test and the Hodges-Lehmann shift
# estimate / confidence interval, computed with R's stats::wilcox.test.
#
# Reads  fixtures/golden/datasets.json          (written by scripts/golden/datasets.py)
# Writes fixtures/golden/mann_whitney_r.json
#
# Usage (from the repository root):
#   Rscript scripts/golden/mann_whitney.R [datasets.json] [out.json]
#
# Needs R (Debian package r-base-core) and jsonlite (Debian package r-cran-jsonlite)
# for reading.  The output JSON is written by a small writer in this file because
# jsonlite (1.8.x) writes at most 15 significant digits even with digits = NA;
# every non-integer number here is written with "%.17g", which round-trips exactly.
#
# See scripts/golden/README.md for the meaning of every field.

suppressPackageStartupMessages(library(jsonlite))

# ---------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------
script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grepl("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else NA_character_
})
repo_root <- if (!is.na(script_path)) {
  normalizePath(file.path(dirname(script_path), "..", ".."))
} else {
  getwd()
}
args <- commandArgs(trailingOnly = TRUE)
in_path <- if (length(args) >= 1L) args[[1]] else
  file.path(repo_root, "fixtures", "golden", "datasets.json")
out_path <- if (length(args) >= 2L) args[[2]] else
  file.path(repo_root, "fixtures", "golden", "mann_whitney_r.json")

MAX_PAIRS <- 1e7        # full pairwise differences only when n*m <= this
TIGHT_TOL <- 1e-13      # root tolerance for the "tight" re-run
REL_TOL <- 1e-9         # match tolerance for the summaries printed at the end

# ---------------------------------------------------------------------------
# Minimal exact JSON writer
# ---------------------------------------------------------------------------
json_num <- function(v) {
  if (is.null(v) || length(v) == 0L) return("null")
  stopifnot(length(v) == 1L)
  v <- as.numeric(v)
  if (is.na(v) || !is.finite(v)) return("null")      # NA, NaN, +-Inf -> null
  if (v == trunc(v) && abs(v) < 1e15) return(sprintf("%.0f", v))
  sprintf("%.17g", v)
}
json_str <- function(s) as.character(jsonlite::toJSON(s, auto_unbox = TRUE))
to_json <- function(v) {
  if (is.null(v)) return("null")
  if (is.list(v)) {
    if (length(v) == 0L) return(if (is.null(names(v))) "[]" else "{}")
    if (!is.null(names(v))) {
      parts <- vapply(names(v), function(k) paste0(json_str(k), ":", to_json(v[[k]])), "")
      return(paste0("{", paste(parts, collapse = ","), "}"))
    }
    return(paste0("[", paste(vapply(v, to_json, ""), collapse = ","), "]"))
  }
  if (length(v) != 1L) stop("to_json: wrap vectors in as.list() to make arrays")
  if (is.character(v)) return(if (is.na(v)) "null" else json_str(v))
  if (is.logical(v)) return(if (is.na(v)) "null" else if (v) "true" else "false")
  json_num(v)
}

# ---------------------------------------------------------------------------
# wilcox.test with a tightened root tolerance
# ---------------------------------------------------------------------------
make_tight <- function(tol) {
  f <- stats:::wilcox.test.default
  if ("tol.root" %in% names(formals(f))) {
    # R >= 4.0: the uniroot() tolerance is the argument tol.root (default 1e-4),
    # so the literal "tol = 1e-4" no longer appears in the body.
    formals(f)$tol.root <- tol
    if (!identical(formals(f)$tol.root, tol)) stop("failed to set tol.root")
    n_uses <- sum(lengths(regmatches(deparse(body(f)),
                                     gregexpr("tol = tol.root", deparse(body(f)), fixed = TRUE))))
    if (n_uses < 3L) stop(sprintf("expected >= 3 uses of tol.root in the body, found %d", n_uses))
    return(list(fun = f, how = sprintf("formals(f)$tol.root <- %g (tol.root used %d times in body)",
                                       tol, n_uses)))
  }
  # Older R: the tolerance is a literal inside the body.
  src <- deparse(body(f))
  pats <- c("tol = 1e-04", "tol = 1e-4")
  hits <- sum(vapply(pats, function(p)
    sum(lengths(regmatches(src, gregexpr(p, src, fixed = TRUE)))), 0))
  if (hits < 3L) stop(sprintf("tolerance substitution: expected >= 3 matches, found %d", hits))
  for (p in pats) src <- gsub(p, sprintf("tol = %g", tol), src, fixed = TRUE)
  body(f) <- parse(text = src)[[1]]
  list(fun = f, how = sprintf("gsub of the literal root tolerance (%d matches) -> %g", hits, tol))
}
tight <- make_tight(TIGHT_TOL)
wt_tight <- tight$fun
wt_default <- stats:::wilcox.test.default
message("tight tolerance: ", tight$how)

run_wt <- function(fun, x, y, alternative, conf.level, conf.int = TRUE) {
  warns <- character(0)
  res <- tryCatch(
    withCallingHandlers(
      fun(x, y, alternative = alternative, conf.int = conf.int,
          conf.level = conf.level, correct = TRUE),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      }),
    error = function(e) e)
  list(ok = !inherits(res, "error"), res = res, warnings = unique(warns),
       error = if (inherits(res, "error")) conditionMessage(res) else NULL)
}

# ---------------------------------------------------------------------------
# Helpers for the distribution-free (order statistic) quantities
# ---------------------------------------------------------------------------
tie_term <- function(v) {          # sum(t^3 - t) over tie groups, exactly as R does it
  t <- as.numeric(table(rank(v)))
  sum(t^3 - t)
}
sigma_u <- function(n, m, tt) sqrt((n * m / 12) * ((n + m + 1) - tt / ((n + m) * (n + m - 1))))
clamp <- function(k, nm) min(max(k, 1), nm)

rel_match <- function(a, b) {
  if (is.null(a) || is.null(b) || is.na(a) || is.na(b)) return(NA)
  if (!is.finite(a) || !is.finite(b)) return(identical(a, b))
  abs(a - b) <= REL_TOL * max(abs(a), abs(b)) || abs(a - b) <= 1e-12
}
num_or_null <- function(v) if (is.null(v) || length(v) == 0L || is.na(v) || !is.finite(v)) NULL else v

# ---------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------
ds <- jsonlite::fromJSON(in_path, simplifyVector = FALSE)
cases <- ds$cases
combos <- list(list(alt = "two.sided", cl = 0.95),
               list(alt = "two.sided", cl = 0.98),
               list(alt = "less", cl = 0.98),
               list(alt = "greater", cl = 0.98))

# Every result record has exactly these keys (null where unavailable).
FIELDS <- c("name", "n", "m", "ties", "alternative", "conf_level", "exact_used",
            "u", "p_value", "method", "stat_from_conf_int_false",
            "estimate", "ci_lower", "ci_upper", "ci_conf_level", "error", "warnings",
            "estimate_tight", "ci_lower_tight", "ci_upper_tight", "error_tight",
            "exact_k_lo", "exact_k_hi",
            "diff_median", "diff_mid_lo", "diff_mid_hi", "sigma", "sigma_within",
            "os_k_lo", "os_k_hi", "os_lo", "os_hi",
            "os_within_k_lo", "os_within_k_hi", "os_within_lo", "os_within_hi")

results <- list()
summ <- list(os_tight = c(match = 0, mismatch = 0), osw_tight = c(match = 0, mismatch = 0),
             median_tight = c(match = 0, mismatch = 0), midrange_tight = c(match = 0, mismatch = 0), exact_os = c(match = 0, mismatch = 0))
mismatch_lines <- character(0)
t0 <- proc.time()[["elapsed"]]

for (cs in cases) {
  name <- cs$name
  x <- as.numeric(unlist(cs$x))
  y <- as.numeric(unlist(cs$y))
  n <- length(x); m <- length(y); nm <- n * m
  ties <- length(unique(c(x, y))) != n + m
  exact_used <- (n < 50) && (m < 50) && !ties      # R's rule for exact = NULL

  have_diffs <- nm <= MAX_PAIRS
  if (have_diffs) {
    d <- sort(as.vector(outer(x, y, "-")))
    diff_median <- median(d)
    diff_mid_lo <- d[floor((nm + 1) / 2)]     # d(nm/2) for even nm, the median for odd nm
    diff_mid_hi <- d[ceiling((nm + 1) / 2)]   # d(nm/2 + 1) for even nm, the median for odd nm
  }
  sig_pooled <- sigma_u(n, m, tie_term(c(x, y)))
  sig_within <- sigma_u(n, m, tie_term(x) + tie_term(y))

  for (cb in combos) {
    alt <- cb$alt; cl <- cb$cl; alpha <- 1 - cl
    r <- run_wt(wt_default, x, y, alt, cl)
    rec <- list(name = name, n = n, m = m, ties = ties, alternative = alt, conf_level = cl,
                exact_used = exact_used)
    stat_src <- r
    if (!r$ok) stat_src <- run_wt(wt_default, x, y, alt, cl, conf.int = FALSE)
    rec$u <- if (stat_src$ok) unname(stat_src$res$statistic) else NULL
    rec$p_value <- if (stat_src$ok) num_or_null(stat_src$res$p.value) else NULL
    rec$method <- if (stat_src$ok) stat_src$res$method else NULL
    rec$stat_from_conf_int_false <- !r$ok
    if (r$ok) {
      rec$estimate <- num_or_null(unname(r$res$estimate))
      rec$ci_lower <- num_or_null(r$res$conf.int[1])
      rec$ci_upper <- num_or_null(r$res$conf.int[2])
      rec$ci_conf_level <- attr(r$res$conf.int, "conf.level")
    } else {
      rec$estimate <- NULL; rec$ci_lower <- NULL; rec$ci_upper <- NULL; rec$ci_conf_level <- NULL
    }
    rec$error <- r$error
    rec$warnings <- as.list(r$warnings)

    # Tightened tolerance re-run (normal-approximation path only).
    rec$estimate_tight <- NULL; rec$ci_lower_tight <- NULL; rec$ci_upper_tight <- NULL
    rec$error_tight <- NULL
    if (!exact_used) {
      rt <- run_wt(wt_tight, x, y, alt, cl)
      if (rt$ok) {
        rec$estimate_tight <- num_or_null(unname(rt$res$estimate))
        rec$ci_lower_tight <- num_or_null(rt$res$conf.int[1])
        rec$ci_upper_tight <- num_or_null(rt$res$conf.int[2])
      } else {
        rec$error_tight <- rt$error
      }
    }

    # Exact-path interval indices (R: qu <- qwilcox(alpha/2 or alpha, n, m); if 0 then 1).
    rec$exact_k_lo <- NULL; rec$exact_k_hi <- NULL
    if (exact_used) {
      qu <- qwilcox(if (alt == "two.sided") alpha / 2 else alpha, n, m)
      if (qu == 0) qu <- 1
      if (alt != "less") rec$exact_k_lo <- qu
      if (alt != "greater") rec$exact_k_hi <- nm - qu + 1
    }

    # Distribution-free quantities from all pairwise differences.
    rec$diff_median <- NULL; rec$diff_mid_lo <- NULL; rec$diff_mid_hi <- NULL
    rec$sigma <- num_or_null(sig_pooled)
    rec$sigma_within <- num_or_null(sig_within)
    for (f in c("os_k_lo", "os_k_hi", "os_lo", "os_hi",
                "os_within_k_lo", "os_within_k_hi", "os_within_lo", "os_within_hi"))
      rec[f] <- list(NULL)
    if (have_diffs) {
      rec$diff_median <- diff_median
      rec$diff_mid_lo <- diff_mid_lo
      rec$diff_mid_hi <- diff_mid_hi
      z <- qnorm(1 - (if (alt == "two.sided") alpha / 2 else alpha))
      for (variant in c("os", "os_within")) {
        s <- if (variant == "os") sig_pooled else sig_within
        if (s > 0) {
          if (alt != "less") {
            k <- clamp(ceiling(nm / 2 - 0.5 - z * s), nm)
            rec[[paste0(variant, "_k_lo")]] <- k
            rec[[paste0(variant, "_lo")]] <- d[k]
          }
          if (alt != "greater") {
            k <- clamp(ceiling(nm / 2 + 0.5 + z * s), nm)
            rec[[paste0(variant, "_k_hi")]] <- k
            rec[[paste0(variant, "_hi")]] <- d[k]
          }
        }
      }

      # ---- match bookkeeping ----
      tally <- function(key, ok, what) {
        if (is.na(ok)) return(invisible())
        summ[[key]][if (ok) "match" else "mismatch"] <<- summ[[key]][if (ok) "match" else "mismatch"] + 1
        if (!ok && key != "median_tight") mismatch_lines <<- c(mismatch_lines, sprintf("[%s] %s %s %.2f: %s", key, name, alt, cl, what))
      }
      if (!exact_used && is.null(rec$error_tight)) {
        for (variant in c("os", "os_within")) {
          key <- if (variant == "os") "os_tight" else "osw_tight"
          if (alt != "less" && !is.null(rec[[paste0(variant, "_lo")]])) {
            a <- rec[[paste0(variant, "_lo")]]; b <- rec$ci_lower_tight
            tally(key, rel_match(a, b), sprintf("lo k=%d os=%.17g tight=%.17g",
                                                as.integer(rec[[paste0(variant, "_k_lo")]]), a, b))
          }
          if (alt != "greater" && !is.null(rec[[paste0(variant, "_hi")]])) {
            a <- rec[[paste0(variant, "_hi")]]; b <- rec$ci_upper_tight
            tally(key, rel_match(a, b), sprintf("hi k=%d os=%.17g tight=%.17g",
                                                as.integer(rec[[paste0(variant, "_k_hi")]]), a, b))
          }
        }
        if (!is.null(rec$estimate_tight)) {
          e <- rec$estimate_tight
          inside <- (e >= diff_mid_lo || isTRUE(rel_match(e, diff_mid_lo))) &&
                    (e <= diff_mid_hi || isTRUE(rel_match(e, diff_mid_hi)))
          tally("midrange_tight", inside,
                sprintf("estimate_tight=%.17g outside [%.17g, %.17g]", e, diff_mid_lo, diff_mid_hi))
        }
        if (!is.null(rec$estimate_tight))
          tally("median_tight", rel_match(diff_median, rec$estimate_tight),
                sprintf("median=%.17g estimate_tight=%.17g (nm=%d)", diff_median,
                        rec$estimate_tight, as.integer(nm)))
      }
      if (exact_used && r$ok) {
        if (!is.null(rec$exact_k_lo))
          tally("exact_os", identical(d[rec$exact_k_lo], rec$ci_lower), "exact lo != d[k]")
        if (!is.null(rec$exact_k_hi))
          tally("exact_os", identical(d[rec$exact_k_hi], rec$ci_upper), "exact hi != d[k]")
        tally("exact_os", identical(diff_median, rec$estimate), "exact estimate != median")
      }
    }
    missing <- setdiff(names(rec), FIELDS)
    if (length(missing)) stop("fields not in FIELDS: ", paste(missing, collapse = ", "))
    results[[length(results) + 1L]] <- lapply(setNames(FIELDS, FIELDS), function(f)
      if (is.null(rec[[f]])) NA else rec[[f]])
  }
  message(sprintf("%-36s n=%-5d m=%-5d exact=%-5s  (%.1fs)", name, n, m, exact_used,
                  proc.time()[["elapsed"]] - t0))
}

# ---------------------------------------------------------------------------
# Exact distribution table
# ---------------------------------------------------------------------------
sizes <- list(c(1, 1), c(3, 4), c(5, 5), c(10, 7), c(20, 20), c(49, 49), c(49, 10))
exact_distribution <- list()
exact_quantiles <- list()
probs <- c(1e-6, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999)
for (s in sizes) {
  n <- s[1]; m <- s[2]; nm <- n * m
  qs <- sort(unique(c(-1, 0, 1, 2, 3, floor(nm / 4), floor(nm / 2) - 1, floor(nm / 2),
                      ceiling(nm / 2), floor(3 * nm / 4), nm - 3, nm - 2, nm - 1, nm, nm + 1)))
  qs <- qs[qs >= -1 & qs <= nm + 1]
  for (q in qs) {
    exact_distribution[[length(exact_distribution) + 1L]] <- list(
      n = n, m = m, q = q,
      pwilcox_lower = pwilcox(q, n, m),
      pwilcox_upper = pwilcox(q, n, m, lower.tail = FALSE),
      dwilcox = dwilcox(q, n, m))
  }
  for (p in probs) {
    exact_quantiles[[length(exact_quantiles) + 1L]] <- list(
      n = n, m = m, p = p, qwilcox = qwilcox(p, n, m))
  }
}

# ---------------------------------------------------------------------------
# Output + summary
# ---------------------------------------------------------------------------
doc <- list(generator = "scripts/golden/mann_whitney.R",
            r_version = R.version.string,
            tight_tolerance = TIGHT_TOL,
            tight_tolerance_how = tight$how,
            max_pairs_for_order_statistics = MAX_PAIRS,
            results = results,
            exact_distribution = exact_distribution,
            exact_quantiles = exact_quantiles)
dir.create(dirname(out_path), recursive = TRUE, showWarnings = FALSE)
writeLines(to_json(doc), out_path, useBytes = TRUE)

cat(sprintf("wrote %d results (%d cases) + %d exact_distribution + %d exact_quantiles rows to %s\n",
            length(results), length(cases), length(exact_distribution),
            length(exact_quantiles), out_path))
cat(sprintf("match within %g relative (normal-approx cases, tight tolerance %g):\n", REL_TOL, TIGHT_TOL))
cat(sprintf("  order statistic, pooled-tie sigma   vs ci_*_tight : %d match, %d mismatch\n",
            summ$os_tight[["match"]], summ$os_tight[["mismatch"]]))
cat(sprintf("  order statistic, within-tie sigma   vs ci_*_tight : %d match, %d mismatch\n",
            summ$osw_tight[["match"]], summ$osw_tight[["mismatch"]]))
cat(sprintf("  median(pairwise diffs)              vs estimate_tight: %d match, %d mismatch\n",
            summ$median_tight[["match"]], summ$median_tight[["mismatch"]]))
cat(sprintf("  estimate_tight inside [diff_mid_lo, diff_mid_hi]      : %d yes, %d no\n",
            summ$midrange_tight[["match"]], summ$midrange_tight[["mismatch"]]))
cat("  (for even n*m R's estimate is a root of a step function that is exactly 0 on the whole\n",
    "  interval [d(nm/2), d(nm/2+1)], so uniroot may return any point of it, not the midpoint)\n")
cat(sprintf("exact-path cases: d[exact_k], median vs R's ci/estimate (identical): %d match, %d mismatch\n",
            summ$exact_os[["match"]], summ$exact_os[["mismatch"]]))
if (length(mismatch_lines)) {
  cat("mismatches:\n")
  cat(paste0("  ", mismatch_lines), sep = "\n")
}
