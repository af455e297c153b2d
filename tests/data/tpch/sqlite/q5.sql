-- TPC-H Q5 for the SQLite oracle (DECIMAL as value * 100; revenue has scale 4).
select
	n_name,
	dec(sum(l_extendedprice * (100 - l_discount)), 4) as revenue
from
	customer,
	orders,
	lineitem,
	supplier,
	nation,
	region
where
	c_custkey = o_custkey
	and l_orderkey = o_orderkey
	and l_suppkey = s_suppkey
	and c_nationkey = s_nationkey
	and s_nationkey = n_nationkey
	and n_regionkey = r_regionkey
	and r_name = 'ASIA'
	and o_orderdate >= '1994-01-01'
	and o_orderdate < date('1994-01-01', '+1 year')
group by
	n_name
order by
	sum(l_extendedprice * (100 - l_discount)) desc;
