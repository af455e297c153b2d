-- TPC-H Q18 for the SQLite oracle (DECIMAL as value * 100: quantity 300 is 30000).
select
	c_name,
	c_custkey,
	o_orderkey,
	o_orderdate,
	dec(o_totalprice, 2) as o_totalprice,
	dec(sum(l_quantity), 2) as sum_quantity
from
	customer,
	orders,
	lineitem
where
	o_orderkey in (
		select
			l_orderkey
		from
			lineitem
		group by
			l_orderkey having
				sum(l_quantity) > 30000
	)
	and c_custkey = o_custkey
	and o_orderkey = l_orderkey
group by
	c_name,
	c_custkey,
	o_orderkey,
	o_orderdate,
	orders.o_totalprice
order by
	orders.o_totalprice desc,
	o_orderdate
limit 100;
