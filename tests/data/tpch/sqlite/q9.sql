-- TPC-H Q9 for the SQLite oracle (DECIMAL as value * 100; amount has scale 4).
select
	nation,
	o_year,
	dec(sum(amount), 4) as sum_profit
from
	(
		select
			n_name as nation,
			cast(strftime('%Y', o_orderdate) as integer) as o_year,
			l_extendedprice * (100 - l_discount) - ps_supplycost * l_quantity as amount
		from
			part,
			supplier,
			lineitem,
			partsupp,
			orders,
			nation
		where
			s_suppkey = l_suppkey
			and ps_suppkey = l_suppkey
			and ps_partkey = l_partkey
			and p_partkey = l_partkey
			and o_orderkey = l_orderkey
			and s_nationkey = n_nationkey
			and p_name like '%green%'
	) as profit
group by
	nation,
	o_year
order by
	nation,
	o_year desc;
