-- TPC-H Q17 for the SQLite oracle (DECIMAL as value * 100). "l_quantity < 0.2 * avg" is
-- compared exactly as "5 * l_quantity * count < sum"; the result is a ratio: REAL.
select
	sum(l_extendedprice) / 100.0 / 7.0 as avg_yearly
from
	lineitem,
	part
where
	p_partkey = l_partkey
	and p_brand = 'Brand#23'
	and p_container = 'MED BOX'
	and (
		select
			sum(l2.l_quantity) - 5 * lineitem.l_quantity * count(*)
		from
			lineitem l2
		where
			l2.l_partkey = p_partkey
	) > 0;
