#!/usr/bin/env python3
import json,os,sys,collections,subprocess
# usage: jfr-summary.py file.jfr  -> summary of jdk.ExecutionSample by thread group and top frames
out=subprocess.run([os.path.join(os.environ.get("JAVA_HOME","/usr/lib/jvm/temurin-25-jdk-amd64"),"bin","jfr"),'print','--json','--events','jdk.ExecutionSample',sys.argv[1]],capture_output=True,text=True).stdout
ev=json.loads(out)['recording']['events']
def group(name):
    for p,g in [('engram-index','index workers'),('engram-consolidate','consolidation'),('grpc-nio-worker','netty (gRPC transport)'),('grpc-default-executor','grpc executor'),('load-','bench client threads'),('main','bench producer (main)'),('ForkJoinPool','virtual-thread carriers (gRPC calls: session, accept)'),('engram-session','session ticker'),('engram-text','text refresh'),('engram-warm','warmup')]:
        if name.startswith(p): return g
    return 'other: '+name.split('-')[0][:30]
by=collections.Counter(); top=collections.defaultdict(collections.Counter); selfc=collections.Counter(); incl=collections.Counter()
for e in ev:
    v=e['values']; t=v['sampledThread']; name=(t.get('javaName') or t.get('osName') or '?')
    g=group(name); by[g]+=1
    fr=v['stackTrace']['frames'] if v.get('stackTrace') else []
    if fr:
        m=fr[0]['method']; selfc[m['type']['name'].split('.')[-1]+'.'+m['name']]+=1
        seen=set()
        for f in fr:
            m=f['method']; k=m['type']['name']
            if k.startswith('dev.engram') and k not in seen:
                seen.add(k); incl[(g,k.replace('dev.engram.',''))]+=1
n=len(ev)
print(f"{n} execution samples ({sys.argv[1].split('/')[-1]})\n\nby thread group:")
for g,c in by.most_common(): print(f"  {100*c/n:5.1f}%  {g}")
print("\ntop self frames:")
for k,c in selfc.most_common(25): print(f"  {100*c/n:5.1f}%  {k}")
print("\nEngram classes on the stack (inclusive, per thread group), top 30:")
for (g,k),c in incl.most_common(30): print(f"  {100*c/n:5.1f}%  {k}  [{g}]")
