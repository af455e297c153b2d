-- TPC-H Q10 for the SQLite oracle (DECIMAL as value * 100; revenue has scale 4).
select
	c_custkey,
	c_name,
	dec(sum(l_extendedprice * (100 - l_discount)), 4) as revenue,
	dec(c_acctbal, 2) as c_acctbal,
	n_name,
	c_address,
	c_phone,
	c_comment
from
	customer,
	orders,
	lineitem,
	nation
where
	c_custkey = o_custkey
	and l_orderkey = o_orderkey
	and o_orderdate >= '1993-10-01'
	and o_orderdate < date('1993-10-01', '+3 months')
	and l_returnflag = 'R'
	and c_nationkey = n_nationkey
group by
	c_custkey,
	c_name,
	customer.c_acctbal,
	c_phone,
	n_name,
	c_address,
	c_comment
order by
	sum(l_extendedprice * (100 - l_discount)) desc
limit 20;
