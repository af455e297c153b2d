-- TPC-H Q3 for the SQLite oracle (DECIMAL as value * 100; revenue has scale 4).
select
	l_orderkey,
	dec(sum(l_extendedprice * (100 - l_discount)), 4) as revenue,
	o_orderdate,
	o_shippriority
from
	customer,
	orders,
	lineitem
where
	c_mktsegment = 'BUILDING'
	and c_custkey = o_custkey
	and l_orderkey = o_orderkey
	and o_orderdate < '1995-03-15'
	and l_shipdate > '1995-03-15'
group by
	l_orderkey,
	o_orderdate,
	o_shippriority
order by
	sum(l_extendedprice * (100 - l_discount)) desc,
	o_orderdate
limit 10;
