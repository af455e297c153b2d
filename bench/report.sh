# report.sh - the history and the plots of bench/run.sh's TPC-H sections (sourced by run.sh,
# not run on its own). Uses run.sh's ROOT, calc and progress.
#
# History: one tab-separated file per section in the history directory (bench/history by
# default), a header line naming the columns, then one line per run, appended; columns are
# read by name. Lines are compared with the last earlier line of the same scale factor and
# thread count: a figure (lower is better) more than 10% above the previous one is a
# regression.
# shellcheck shell=bash

# hist_rev: the commit the build comes from, short, with "+dirty" when the work tree has
# changes outside bench/history (which the bench itself changes).
hist_rev() {
  local r
  if ! r=$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    echo "none"
    return
  fi
  if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain -- . \
    ':(exclude)bench/history' 2>/dev/null) ]]; then
    r+="+dirty"
  fi
  echo "$r"
}

# hist_prev FILE SF THREADS COL...: prints the named columns (tab-separated) of the last line
# of FILE whose columns "sf" and "threads" are SF and THREADS (as numbers); returns 1 if there
# is none, or if FILE lacks one of the columns.
hist_prev() {
  local file=$1 sf=$2 th=$3
  shift 3
  [[ -f $file ]] || return 1
  awk -F'\t' -v sf="$sf" -v th="$th" -v cols="$*" '
    NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    ("sf" in h) && ("threads" in h) && $h["sf"] + 0 == sf + 0 && $h["threads"] + 0 == th + 0 {
      last = $0
    }
    END {
      if (last == "") exit 1
      split(last, f, "\t")
      m = split(cols, c, " ")
      for (j = 1; j <= m; j++) {
        if (!(c[j] in h)) exit 1
        printf "%s%s", (j > 1 ? "\t" : ""), f[h[c[j]]]
      }
      print ""
    }' "$file"
}

# hist_append FILE HEADER ROW: appends ROW (tab-separated) to FILE, writing HEADER first when
# FILE is new or empty. Refuses (returns 1, with a message) a FILE whose header is not HEADER:
# an older layout is kept as it is, not mixed with the new one.
hist_append() {
  local file=$1 header=$2 row=$3
  mkdir -p "$(dirname "$file")" || return 1
  if [[ -s $file ]]; then
    if [[ $(head -1 "$file") != "$header" ]]; then
      echo "history: $file has other columns than this version of run.sh writes; not" \
        "appended (move it aside to start a new one)"
      return 1
    fi
  else
    printf '%s\n' "$header" >"$file" || return 1
  fi
  printf '%s\n' "$row" >>"$file"
}

# hist_compare LABEL NEW PREV PREV_REV PREV_DATE [NOTE]: prints NEW beside PREV (the previous
# entry's figure of the same kind, lower is better) and, when NEW is more than 10% above PREV,
# flags a regression (also added to REGRESSIONS, which run.sh prints in its summary). NOTE is
# appended to the line (e.g. that the two entries cover different queries).
REGRESSIONS=()
hist_compare() {
  local label=$1 new=$2 prev=$3 prev_rev=$4 prev_date=$5 note=${6:-} pct flag=""
  if ! [[ $prev =~ ^[0-9]+(\.[0-9]+)?$ ]] || [[ $(calc "$prev") == 0.00 ]]; then
    echo "history: $label $new now; the previous entry ($prev_rev, $prev_date) has none"
    return
  fi
  pct=$(FMT=%+.1f calc "($new / $prev - 1) * 100")
  if awk "BEGIN { exit !($new > $prev * 1.10) }"; then
    flag="  REGRESSION (more than 10% worse)"
    REGRESSIONS+=("REGRESSION: $label $new, was $prev at $prev_rev ($prev_date): $pct%${note:+ ($note)}")
  fi
  echo "history: $label $new now, $prev at $prev_rev ($prev_date): $pct%$flag${note:+ ($note)}"
}

# plot_ratios PNG TITLE YLABEL GOAL GOAL_LABEL DATA: a bar chart of one ratio per query, log
# scale y, a dashed line at GOAL. DATA: lines "qN VALUE", VALUE "-" for a query without a
# ratio (shown as an empty slot with its reason under the label, e.g. "FAILED", in the
# label itself: "q18/FAILED -" puts "FAILED" under "q18"). Says why when it cannot plot.
plot_ratios() {
  local png=$1 title=$2 ylabel=$3 goal=$4 goal_label=$5 data=$6 dat lo hi
  if ! command -v gnuplot >/dev/null; then
    echo "plot: skipped: gnuplot is not installed (Debian package gnuplot-nox; make bench's" \
      "bootstrap installs it)"
    return 0
  fi
  dat=$(mktemp)
  # Columns: label (newline before a reason), value or NaN.
  awk '{ l = $1; sub("/", "\\n", l); v = ($2 == "-") ? "NaN" : $2; printf "\"%s\" %s\n", l, v }' \
    <<<"$data" >"$dat"
  # The y range spans the values and the goal: from a power of 10 below the smallest (a
  # goal at a power of 10 then stays visible above the axis), to 2.5 times the largest (room
  # for its label).
  read -r lo hi < <(awk -v g="$goal" '
    BEGIN { lo = g; hi = g }
    $2 != "NaN" && $2 > 0 { if ($2 < lo) lo = $2; if ($2 > hi) hi = $2 }
    END {
      e = log(lo) / log(10); f = int(e); if (f > e) f--
      if (10 ^ f >= lo * 0.999) f--
      print 10 ^ f, hi * 2.5
    }' "$dat")
  if ! gnuplot 2>"$dat.err" <<EOF; then
set terminal pngcairo size 1100,520 font "sans,10"
set output "$png"
set title "$title" noenhanced
set ylabel "$ylabel" noenhanced
set logscale y
set yrange [$lo:$hi]
set xrange [-0.6:*]
set grid ytics mytics lc rgb "#dddddd"
set style fill solid 0.7 border -1
set boxwidth 0.7
set key below
set bmargin 5
set datafile missing "NaN"
set arrow from graph 0, first $goal to graph 1, first $goal nohead lc rgb "#d62728" dt 2 lw 2
plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4472c4" title "per query", \\
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8 notitle, \\
     NaN with lines lc rgb "#d62728" dt 2 lw 2 title "$goal_label"
EOF
    echo "plot: gnuplot failed: $(head -3 "$dat.err" | paste -sd' ')"
    rm -f "$dat" "$dat.err"
    return 0
  fi
  rm -f "$dat" "$dat.err"
  echo "plot: $png"
}
