// CUDA graphs: a captured graph is the list of closures its stream received during capture (a
// kernel node holds its parameters by value, as the closures do); an executable graph shares that
// list, and a launch queues one item on the stream that runs every node in capture order.
#include "cudasim.h"
#include "sim_state.h"

using namespace cudasim::rt;

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* numNodes)
{
    Lock lock(mutex());
    if (!graph || !numNodes)
        return fail(cudaErrorInvalidValue);
    if (!nodes) {
        *numNodes = graph->nodes.size();
        return cudaSuccess;
    }
    while (graph->handles.size() < graph->nodes.size()) {
        auto h = std::make_unique<CUgraphNode_st>();
        h->index = graph->handles.size();
        graph->handles.push_back(std::move(h));
    }
    const std::size_t n = std::min(*numNodes, graph->nodes.size());
    for (std::size_t i = 0; i < n; ++i)
        nodes[i] = graph->handles[i].get();
    *numNodes = n;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    Lock lock(mutex());
    if (!graph)
        return fail(cudaErrorInvalidValue);
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* pGraphExec, cudaGraph_t graph, unsigned long long flags)
{
    Lock lock(mutex());
    if (!pGraphExec || !graph)
        return fail(cudaErrorInvalidValue);
    if (flags != 0)
        return fail(cudaErrorNotSupported);  // auto-free, upload, device launch, priority: not simulated
    auto* exec = new CUgraphExec_st();
    exec->nodes = std::make_shared<const std::vector<Node>>(graph->nodes);
    *pGraphExec = exec;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec)
{
    Lock lock(mutex());
    if (!graphExec)
        return fail(cudaErrorInvalidValue);
    delete graphExec;  // launches still queued keep the nodes alive
    return cudaSuccess;
}

cudaError_t cudaGraphUpload(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    Lock lock(mutex());
    if (!graphExec)
        return fail(cudaErrorInvalidValue);
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    // Nothing to upload; queued so that the stream's ordering rules (and capture errors) apply.
    return fail(enqueueOn(s, Node{[] {}, "cudaGraphUpload"}));
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    Lock lock(mutex());
    if (!graphExec)
        return fail(cudaErrorInvalidValue);
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    std::shared_ptr<const std::vector<Node>> nodes = graphExec->nodes;
    return fail(enqueueOn(s, Node{[nodes] {
                                      for (const Node& n : *nodes)
                                          n.work();
                                  },
                                  "cudaGraphLaunch"}));
}
