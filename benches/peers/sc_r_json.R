# sc_r_json.R -- a small JSON writer with round-trip doubles, shared by the R peer scripts
# (sc_r_prop99.R, sc_r_synth_prop99.R): shortest %.15g-%.17g form that reads back to the same
# double; named lists become objects, unnamed lists arrays; arr() forces an array of length 1.
# Needs jsonlite (for string escaping).
fmt_num <- function(x) {
  if (is.na(x) || !is.finite(x)) return("null")
  if (x == round(x) && abs(x) < 1e15) return(format(x, scientific = FALSE))
  for (d in 15:17) {
    s <- sprintf(paste0("%.", d, "g"), x)
    if (as.numeric(s) == x) return(s)
  }
  s
}
json_str <- function(s) toJSON(s, auto_unbox = TRUE)
to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1); pad0 <- strrep("  ", indent)
  if (is.null(x)) return("null")
  if (inherits(x, "json_array")) { x <- unclass(x); force_array <- TRUE } else force_array <- FALSE
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    inner <- vapply(x, to_json, "", indent = indent + 1)
    if (!is.null(names(x))) {
      body <- paste0(pad, vapply(names(x), json_str, ""), ": ", inner)
      return(paste0("{\n", paste(body, collapse = ",\n"), "\n", pad0, "}"))
    }
    return(paste0("[\n", paste0(pad, inner, collapse = ",\n"), "\n", pad0, "]"))
  }
  one <- function(v) {
    if (is.logical(v)) { if (is.na(v)) "null" else if (v) "true" else "false" }
    else if (is.numeric(v)) fmt_num(v)
    else json_str(as.character(v))
  }
  vals <- vapply(seq_along(x), function(i) one(x[[i]]), "")
  if (!is.null(names(x))) {
    body <- paste0(pad, vapply(names(x), json_str, ""), ": ", vals)
    return(paste0("{\n", paste(body, collapse = ",\n"), "\n", pad0, "}"))
  }
  if (length(x) == 1 && !force_array) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}
arr <- function(x) structure(x, class = c("json_array", class(x)))
