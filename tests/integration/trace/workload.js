// A deterministic mix of what allocates in a JavaScript engine: objects,
// arrays that grow, strings, JSON both ways, a regexp, sorting. N scales it.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
var result = [];
for (var round = 0; round < N; round++) {
	var objs = [];
	for (var i = 0; i < 2000; i++)
		objs.push({ id: i, name: 'obj' + i, tags: ['a' + (i % 7), 'b' + (i % 13)] });
	var text = JSON.stringify(objs);
	var back = JSON.parse(text);
	var total = 0;
	for (var i = 0; i < back.length; i++)
		total += back[i].id + back[i].tags.length;
	var words = {};
	for (var i = 0; i < 5000; i++) {
		var w = 'w' + ((i * 7919) % 1000);
		words[w] = (words[w] || 0) + 1;
	}
	var keys = Object.keys(words).sort();
	var re = /o(b)j(\d+)7$/;
	var hits = 0;
	for (var i = 0; i < 3000; i++)
		if (re.test('obj' + i))
			hits++;
	var s = '';
	for (var i = 0; i < 500; i++)
		s += String.fromCharCode(65 + (i % 26));
	result = [fib(18), text.length, total, keys.length, hits, s.length, s.slice(0, 5)];
}
result.join(' ');
