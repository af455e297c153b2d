-- TPC-H Q1 for the SQLite oracle (tests/sqlref/sqlref.h: DECIMAL columns hold value * 100;
-- dec(x, s) prints a scaled integer exactly; averages are REAL).
select
	l_returnflag,
	l_linestatus,
	dec(sum(l_quantity), 2) as sum_qty,
	dec(sum(l_extendedprice), 2) as sum_base_price,
	dec(sum(l_extendedprice * (100 - l_discount)), 4) as sum_disc_price,
	dec(sum(l_extendedprice * (100 - l_discount) * (100 + l_tax)), 6) as sum_charge,
	avg(l_quantity) / 100.0 as avg_qty,
	avg(l_extendedprice) / 100.0 as avg_price,
	avg(l_discount) / 100.0 as avg_disc,
	count(*) as count_order
from
	lineitem
where
	l_shipdate <= date('1998-12-01', '-90 days')
group by
	l_returnflag,
	l_linestatus
order by
	l_returnflag,
	l_linestatus;
